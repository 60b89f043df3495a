#!/usr/bin/env python3
"""Django's command-line utility for the demo site.

Run the demo with ``python3 dev.py demo`` (or ``python example/run.py``): it starts
the embedded production bucket that the settings point at, then the site.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
