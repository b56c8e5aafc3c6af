from django.urls import path

from undersigned.api import momentum, openapi, views
from undersigned.api import organize as organizer
from undersigned.pledges import api as pledges

app_name = "api"
urlpatterns = [
    path("openapi.json", openapi.openapi_json, name="openapi"),
    path("letters/<slug:slug>", views.letter, name="letter"),
    path("letters/<slug:slug>/count", momentum.cross_origin(views.count), name="count"),
    path("letters/<slug:slug>/signatures", views.signatures, name="signatures"),
    path("letters/<slug:slug>/events", views.events, name="events"),
    path("letters/<slug:slug>/forge-challenges", views.forge_challenges, name="forge-challenges"),
    path("organize/letters", organizer.letters, name="organize-letters"),
    path("organize/letters/<slug:slug>", organizer.letter, name="organize-letter"),
    path("organize/letters/<slug:slug>/publish", organizer.publish, name="organize-publish"),
    path("organize/letters/<slug:slug>/close", organizer.close, name="organize-close"),
    path("organize/letters/<slug:slug>/updates", organizer.updates, name="organize-updates"),
    path("organize/letters/<slug:slug>/responses", organizer.responses, name="organize-responses"),
    path("organize/letters/<slug:slug>/demands/<int:pk>", organizer.demand, name="organize-demand"),
    path("organize/letters/<slug:slug>/export", organizer.export, name="organize-export"),
    path("letters/<slug:slug>/timeline", momentum.timeline, name="timeline"),
    path("pledges/<slug:slug>", pledges.pledge, name="pledge"),
    path("pledges/<slug:slug>/commitments", pledges.commitments, name="pledge-commitments"),
    path(
        "pledges/<slug:slug>/forge-challenges",
        pledges.forge_challenges,
        name="pledge-forge-challenges",
    ),
]
