"""How good is a trained model, and why: scores, the scoreboard, Grad-CAM and feature
maps, and suspicious labels.

- :mod:`engine.evaluation.metrics`: accuracy (with a bootstrap interval), precision,
  recall, F1, the confusion matrix and per-sample predictions of one test run.
- :mod:`engine.evaluation.scoreboard`: runs ranked side by side when scored on the same
  test faces; the others listed with why they do not compare.
- :mod:`engine.evaluation.gradcam`: Grad-CAM overlays and a layer's feature maps.
- :mod:`engine.evaluation.label_issues`: cleanlab's likely-mislabelled photos and the
  stratified folds that give it out-of-fold predictions.
"""
