from django.urls import path

from undersigned.pledges import views

app_name = "pledges"
urlpatterns = [
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/committed/", views.committed, name="committed"),
    path("<slug:slug>/forge/", views.forge_commit, name="forge"),
    path("<slug:slug>/badge.svg", views.badge, name="badge"),
    path("<slug:slug>/feed.atom", views.PledgeFeed(), name="feed"),
]
