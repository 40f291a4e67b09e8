"""Settings for the intranet example: a minimal Django project whose users come from the gate.

The two settings that matter are ``MIDDLEWARE`` (RemoteUserMiddleware after
AuthenticationMiddleware) and ``AUTHENTICATION_BACKENDS`` (RemoteUserBackend).
Together they turn the ``REMOTE_USER`` the gate sets into ``request.user``,
creating a Django user named after the verified email address on first
sign-in. This is safe only because the gate removes any ``REMOTE_USER`` a
client tries to send: never serve this project without the gate in front.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-change-me-0123456789abcdef")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Must come after AuthenticationMiddleware: it reads REMOTE_USER and logs
    # that user in (or switches to them when it changes).
    "django.contrib.auth.middleware.RemoteUserMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Only the gate authenticates: no passwords are ever checked by Django.
# RemoteUserBackend creates the user on first sign-in (username = REMOTE_USER,
# the lower-cased email address); set create_unknown_user = False in a
# subclass to admit only users an administrator created first.
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.RemoteUserBackend"]

# login_required sends anyone not signed in to the gate's login page.
LOGIN_URL = "/_gate/login"

ROOT_URLCONF = "intranet.urls"
WSGI_APPLICATION = "intranet.wsgi.application"

# Users and Django sessions need a database. DJANGO_SQLITE_PATH lets tests and
# throwaway runs put it in a temporary directory; run `manage.py migrate` first.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
