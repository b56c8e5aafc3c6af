from django.urls import path

from undersigned.organize import keys, views

app_name = "organize"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("new/", views.create, name="create"),
    path("keys/", keys.keys, name="keys"),
    path("<slug:slug>/", views.letter, name="letter"),
    path("<slug:slug>/preview/", views.preview, name="preview"),
    path("<slug:slug>/publish/", views.publish, name="publish"),
    path("<slug:slug>/reopen/", views.reopen, name="reopen"),
    path("<slug:slug>/close/", views.close, name="close"),
    path("<slug:slug>/held/", views.held, name="held"),
    path("<slug:slug>/export.<str:fmt>", views.export, name="export"),
]
