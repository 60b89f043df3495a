"""Django's own storage tests, run against bare and wrapped storages (``tox -e djangotests-*``)."""
