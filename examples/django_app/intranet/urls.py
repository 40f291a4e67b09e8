"""The intranet's URLs: one page and its JSON twin."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("me.json", views.me, name="me"),
]
