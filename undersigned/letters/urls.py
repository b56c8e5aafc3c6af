from django.urls import path

from undersigned.letters import members, views

app_name = "letters"
urlpatterns = [
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/signed/", views.signed, name="signed"),
    path("<slug:slug>/members/", members.request_pass, name="members"),
]
