from django.urls import path

from undersigned.api import openapi, views

app_name = "api"
urlpatterns = [
    path("openapi.json", openapi.openapi_json, name="openapi"),
    path("letters/<slug:slug>", views.letter, name="letter"),
    path("letters/<slug:slug>/count", views.count, name="count"),
    path("letters/<slug:slug>/signatures", views.signatures, name="signatures"),
    path("letters/<slug:slug>/events", views.events, name="events"),
]
