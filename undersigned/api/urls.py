from django.urls import path

from undersigned.api import momentum, openapi, views

app_name = "api"
urlpatterns = [
    path("openapi.json", openapi.openapi_json, name="openapi"),
    path("letters/<slug:slug>", views.letter, name="letter"),
    path("letters/<slug:slug>/count", momentum.cross_origin(views.count), name="count"),
    path("letters/<slug:slug>/signatures", views.signatures, name="signatures"),
    path("letters/<slug:slug>/events", views.events, name="events"),
    path("letters/<slug:slug>/timeline", momentum.timeline, name="timeline"),
]
