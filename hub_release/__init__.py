"""The release's staging, validation and push (``release.py``, ``validate.py``), run as the last stages of
``make release`` = ``python -m pipeline run plans/release.yaml``."""
