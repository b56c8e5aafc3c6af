from django.urls import path

from undersigned.accounts import views as account_views
from undersigned.letters import members, organize, views

app_name = "letters"
urlpatterns = [
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/signed/", views.signed, name="signed"),
    path("<slug:slug>/members/", members.request_pass, name="members"),
]

organize_patterns = (
    [
        path("", organize.dashboard, name="dashboard"),
        path("new/", organize.create, name="create"),
        path("keys/", account_views.keys, name="keys"),
        path("<slug:slug>/", organize.letter, name="letter"),
        path("<slug:slug>/preview/", organize.preview, name="preview"),
        path("<slug:slug>/publish/", organize.publish, name="publish"),
        path("<slug:slug>/close/", organize.close, name="close"),
        path("<slug:slug>/export.<str:fmt>", organize.export, name="export"),
    ],
    "organize",
)
