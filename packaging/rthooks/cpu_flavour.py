# Runtime hook of the CPU flavour when it is frozen from a CUDA build of torch: the CUDA
# libraries torch opens only once a GPU is used (cuDNN's kernels, cuSOLVER...) are not in
# the bundle, so torch must never see a GPU. Runs before any FaceLab or torch code.
import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""
