import numpy as np

from engine.ingest.crop import letterbox, plausibility, square_crop


def test_large_central_face_beats_small_or_edge_faces():
    w, h = 1000, 800
    central_big = plausibility((400, 300, 600, 500), 0.99, w, h)
    small_centre = plausibility((480, 380, 520, 420), 0.99, w, h)
    big_corner = plausibility((0, 0, 200, 200), 0.99, w, h)
    assert central_big > small_centre
    assert central_big > big_corner
    assert plausibility((400, 300, 600, 500), 0.5, w, h) < central_big  # weaker detection


def test_square_crop_adds_margin_and_pads_past_the_edges():
    image = np.full((100, 100, 3), 200, dtype=np.uint8)
    crop = square_crop(image, (0, 0, 50, 50), margin=1.0, out_size=100)
    assert crop.shape == (100, 100, 3)
    # The 100 px square spans -25..75 around (25, 25): its first 25 rows/columns lie outside.
    assert crop[:25, :].max() == 0 and crop[:, :25].max() == 0
    assert crop[25:, 25:].min() == 200


def test_letterbox_keeps_the_whole_image():
    tall = np.full((112, 92, 3), 255, dtype=np.uint8)
    out = letterbox(tall, 224)
    assert out.shape == (224, 224, 3)
    assert out[112, 112].min() == 255 and out[112, 0].max() == 0  # side bars, full height
    assert out[0, 112].min() == 255 and out[223, 112].min() == 255
