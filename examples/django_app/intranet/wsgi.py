"""The project's WSGI application, exactly as ``django-admin startproject`` writes it.

Nothing here knows about pwless-gate: gunicorn wraps it from the outside with
``pwless_gate:gate("intranet.wsgi:application")``.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intranet.settings")

application = get_wsgi_application()
