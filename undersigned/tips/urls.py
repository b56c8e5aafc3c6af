from django.urls import path

from undersigned.tips import views

app_name = "tips"
urlpatterns = [
    path("", views.instance, name="new"),
    path("reply/", views.come_back, name="reply"),
]
