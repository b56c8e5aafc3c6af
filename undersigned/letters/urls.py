from django.urls import path

from undersigned.letters import charts, history, members, spreading, views
from undersigned.tips import views as tips

app_name = "letters"
urlpatterns = [
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/versions/", history.versions, name="versions"),
    path("<slug:slug>/timeline/", history.timeline_page, name="timeline"),
    path("<slug:slug>/feed.atom", history.TimelineFeed(), name="feed"),
    path("<slug:slug>/signed/", views.signed, name="signed"),
    path("<slug:slug>/forge/", views.forge_sign, name="forge"),
    path("<slug:slug>/growth.svg", charts.growth_svg, name="growth"),
    path("<slug:slug>/badge.svg", spreading.badge, name="badge"),
    path("<slug:slug>/embed/", spreading.embed, name="embed"),
    path("<slug:slug>/card.png", spreading.card, name="card"),
    path("<slug:slug>/members/", members.request_pass, name="members"),
    path("<slug:slug>/tip/", tips.for_letter, name="tip"),
]
