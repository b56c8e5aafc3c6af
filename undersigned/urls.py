from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import TemplateView

from undersigned.accounts import login
from undersigned.letters import history, members
from undersigned.letters import views as letter_views
from undersigned.pledges import views as pledge_views
from undersigned.signatures import views as signature_views
from undersigned.subscriptions import views as subscriptions
from undersigned.web import errors, health

urlpatterns = [
    path("", letter_views.home, name="home"),
    path("l/", include("undersigned.letters.urls")),
    path("api/v1/", include("undersigned.api.urls")),  # early: surges sign through it
    path("tips/", include("undersigned.tips.urls")),
    path("p/", include("undersigned.pledges.urls")),
    path("pv/<str:token>", pledge_views.confirm, name="pledge-confirm"),
    path("ps/<str:receipt>", pledge_views.manage, name="pledge-manage"),
    path("v/<str:token>", signature_views.confirm, name="confirm"),
    path("s/<str:receipt>", signature_views.manage, name="manage"),
    path("m/<str:token>", members.use_pass, name="member-pass"),
    path("u/<str:token>", subscriptions.unsubscribe, name="unsubscribe"),
    path("e/<int:pk>", history.entry, name="entry"),
    path("organize/", include("undersigned.organize.urls")),
    path("accounts/login/", login.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("undersigned.accounts.urls")),
    path(
        "accessibility/",
        TemplateView.as_view(template_name="accessibility.html"),
        name="accessibility",
    ),
    path("health", health.health, name="health"),
    path("ping", health.ping, name="ping"),
    path("admin/", admin.site.urls),
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.not_found
handler500 = errors.server_error
