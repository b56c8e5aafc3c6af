from django.urls import path

from undersigned.organize import keys, views
from undersigned.pledges import organize as pledges

app_name = "organize"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("new/", views.create, name="create"),
    path("keys/", keys.keys, name="keys"),
    path("join/<str:token>", views.join, name="join"),
    path("<slug:slug>/", views.letter, name="letter"),
    path("<slug:slug>/preview/", views.preview, name="preview"),
    path("<slug:slug>/publish/", views.publish, name="publish"),
    path("<slug:slug>/reopen/", views.reopen, name="reopen"),
    path("<slug:slug>/close/", views.close, name="close"),
    path("<slug:slug>/held/", views.held, name="held"),
    path("<slug:slug>/update/", views.update, name="update"),
    path("<slug:slug>/update/<int:pk>/", views.correct_update, name="correct_update"),
    path("<slug:slug>/demand/", views.demand, name="demand"),
    path("<slug:slug>/response/", views.response, name="response"),
    path("<slug:slug>/log/", views.log, name="log"),
    path("<slug:slug>/pledges/", pledges.pledges, name="pledges"),
    path("<slug:slug>/pledges/<slug:pledge>/announce/", pledges.announce, name="announce_pledge"),
    path("<slug:slug>/team/invite/", views.invite, name="invite"),
    path("<slug:slug>/team/remove/<str:username>/", views.remove, name="remove"),
    path("<slug:slug>/export.<str:fmt>", views.export, name="export"),
]
