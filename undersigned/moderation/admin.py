from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from undersigned.moderation import services
from undersigned.moderation.models import Invalidation, Policy


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    """The abuse policy: changes apply to every app server within a few seconds."""

    fieldsets = [
        ("Kill switch", {"fields": ["signing_paused", "pause_message"]}),
        (
            "Rate limits (per letter)",
            {
                "fields": [
                    "burst_per_client",
                    "sustained_per_client",
                    "burst_per_domain",
                    "sustained_per_domain",
                ],
                "description": "Signatures over a limit are held: confirmed and kept, shown as "
                "held (how many and why), and counted once released. Client limits use a keyed "
                "hash of the network (IPv4 address or IPv6 /64) that changes daily; domain "
                "limits count confirmed signatures only.",
            },
        ),
        (
            "Allow and block",
            {
                "fields": [
                    "allowed_domains",
                    "allowed_networks",
                    "blocked_domains",
                    "blocked_patterns",
                ]
            },
        ),
        ("Alerts", {"fields": ["trending_alert_per_hour"]}),
    ]

    def has_add_permission(self, request):
        return not Policy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.change_policy(obj, form.changed_data, actor=request.user, via="admin")


class InvalidationForm(forms.ModelForm):
    domain = forms.CharField(required=False, help_text="Email domain to match.")
    ip_hash = forms.CharField(
        required=False,
        help_text="Client-address hash to match (from the trending report). Hashes are kept "
        "only a few days (UNDERSIGNED_IP_HASH_DAYS), so this works only within that window.",
    )
    since = forms.DateTimeField(required=False, help_text="Signed at or after (UTC, hour).")
    until = forms.DateTimeField(required=False, help_text="Signed before (UTC, hour).")
    confirm = forms.BooleanField(
        required=False,
        help_text="Leave unticked for a dry run: you will see how many signatures match.",
    )

    class Meta:
        model = Invalidation
        fields = ["letter", "reason"]

    def clean(self):
        super().clean()
        data = self.cleaned_data
        try:
            self.criteria = services.Criteria(
                domain=data.get("domain", "").strip(),
                ip_hash=data.get("ip_hash", "").strip(),
                since=data.get("since"),
                until=data.get("until"),
            )
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if data.get("letter") and not data.get("confirm"):
            count = services.dry_run(data["letter"], self.criteria)
            raise ValidationError(
                f"Dry run: {count} counted signature{'s' if count != 1 else ''} match. Tick "
                "'confirm' to invalidate them (you can undo it later)."
            )
        return data


@admin.register(Invalidation)
class InvalidationAdmin(admin.ModelAdmin):
    list_display = ["letter", "count", "reason", "created_at", "created_by", "undone_at"]
    list_filter = ["letter"]
    actions = ["undo"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = InvalidationForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["letter", "reason", "criteria", "count", "created_by", "created_at", "undone_at"]

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = services.invalidate(
            obj.letter, form.criteria, obj.reason, actor=request.user, via="admin"
        )
        obj.pk = created.pk
        obj.count = created.count

    @admin.action(description="Undo: count the selected invalidations' signatures again")
    def undo(self, request, queryset):
        total = sum(
            services.undo(invalidation, actor=request.user, via="admin")
            for invalidation in queryset
        )
        messages.success(request, f"{total} signatures are counted again.")
