"""The sentence an import ends with: counts that add up to the files looked at."""

from __future__ import annotations

from gui.jobs.project_jobs import ImportSummary


def test_four_bad_files_are_four_files_not_new_photos_and_skipped_ones():
    # The walkthrough's import: two files refused at import, a truncated JPEG that was
    # added (its header is fine) but could not be decoded, and one tiny photo.
    summary = ImportSummary(photos_added=2, already_imported=0, duplicates=0,
                            photos_cropped=1, faces_found=1, photos_without_face=0,
                            skipped=(("a.jpg", "empty file"), ("b.txt", "not an image"),
                                     ("c.jpg", "truncated")), unreadable=1)
    assert summary.text() == ("Import finished: 4 files: 1 new photo with 1 face found; "
                              "3 files could not be used (the reasons are under Details).")


def test_known_photos_and_photos_without_faces_are_counted_once():
    summary = ImportSummary(photos_added=5, already_imported=2, duplicates=1,
                            photos_cropped=5, faces_found=6, photos_without_face=1,
                            skipped=())
    assert summary.text() == ("Import finished: 8 files: 5 new photos with 6 faces found "
                              "(1 photo with no face found, kept whole); 3 already in the "
                              "project.")
