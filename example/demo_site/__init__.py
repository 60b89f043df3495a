"""The demo site of django-fallback-storage: a development copy of a site whose media live in S3."""
