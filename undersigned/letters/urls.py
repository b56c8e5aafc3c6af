from django.urls import path

from undersigned.letters import members, views
from undersigned.tips import views as tips

app_name = "letters"
urlpatterns = [
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/signed/", views.signed, name="signed"),
    path("<slug:slug>/members/", members.request_pass, name="members"),
    path("<slug:slug>/tip/", tips.for_letter, name="tip"),
]
