; Inno Setup 6 script: FaceLab for Windows lab machines, from the one-folder app that
; packaging/facelab.spec builds on Windows (dist\<flavour>\FaceLab\).
;
;   pyinstaller packaging\facelab.spec -- --flavour cpu      (or cuda)
;   iscc /DFlavour=cpu packaging\windows\facelab.iss          (or /DFlavour=cuda)
;
; Silent install for lab admins (all users, no questions, no message boxes):
;   FaceLab-0.1.0-cpu-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /ALLUSERS /NORESTART /LOG=C:\facelab-install.log
; Silent removal:  "C:\Program Files\FaceLab\unins000.exe" /VERYSILENT /SUPPRESSMSGBOXES
; Check an install: "C:\Program Files\FaceLab\facelab-cli.exe" --self-test  (prints a JSON verdict)
;
; Not built by CI (no Windows machine); kept in step with the .deb by hand.

#ifndef Flavour
  #define Flavour "cpu"
#endif
; AppVersion: keep equal to engine.__version__.
#define AppVersion "0.1.0"
#define SourceDir "..\..\dist\" + Flavour + "\FaceLab"

[Setup]
AppId={{6B1F3C52-8E0D-4B8A-9C37-FACE1AB00001}
AppName=FaceLab
AppVersion={#AppVersion}
AppVerName=FaceLab {#AppVersion} ({#Flavour})
AppPublisher=FaceLab
DefaultDirName={autopf}\FaceLab
DefaultGroupName=FaceLab
DisableProgramGroupPage=yes
; Per-machine by default (lab machines); /ALLUSERS on the command line forces it when silent.
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=FaceLab-{#AppVersion}-{#Flavour}-setup
SetupIconFile=..\..\resources\icons\facelab.ico
UninstallDisplayIcon={app}\FaceLab.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
#if Flavour == "cuda"
; The CUDA flavour is several GB (cuDNN, cuBLAS...): Inno Setup cannot put more than
; about 4 GB in one file, so it spans setup-1.bin, setup-2.bin... beside the .exe; copy
; them all to the share the machines install from.
DiskSpanning=yes
DiskSliceSize=max
SlicesPerDisk=1
#endif

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\FaceLab"; Filename: "{app}\FaceLab.exe"
Name: "{group}\FaceLab self-test"; Filename: "{cmd}"; Parameters: "/k ""{app}\facelab-cli.exe"" --self-test"
Name: "{autodesktop}\FaceLab"; Filename: "{app}\FaceLab.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\FaceLab.exe"; Description: "{cm:LaunchProgram,FaceLab}"; Flags: nowait postinstall skipifsilent
