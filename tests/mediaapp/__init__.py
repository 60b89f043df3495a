"""A test app with the image models that easy-thumbnails, sorl-thumbnail, django-cleanup and the
admin work on (``tests/test_real_apps.py``)."""
