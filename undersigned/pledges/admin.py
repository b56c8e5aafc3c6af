from django.contrib import admin

from undersigned.pledges.models import Pledge


@admin.register(Pledge)
class PledgeAdmin(admin.ModelAdmin):
    """Pledges, for operators: what they say, their counts and status (kept by the worker).
    Commitments are not here: until a pledge is met nobody may see who committed, and after,
    the public ones are on its page. Deleting a pledge deletes its commitments."""

    list_display = ["slug", "action", "status", "commitment_count", "threshold", "deadline"]
    list_filter = ["status"]
    search_fields = ["slug", "action"]
    readonly_fields = [
        "status",
        "commitment_count",
        "verified_count",
        "counted_at",
        "met_at",
        "failed_at",
        "announced_at",
        "published_at",
        "created_at",
    ]
    exclude = ["key_salt", "announcement_subject", "announcement"]
    raw_id_fields = ["letter"]
    filter_horizontal = ["organizers"]

    def get_readonly_fields(self, request, obj=None):
        """What people committed to never changes once it is published."""
        fixed = ["action", "threshold", "deadline", "verified_only", "domains", "letter"]
        return self.readonly_fields + (fixed if obj is not None and obj.is_published else [])

    def has_add_permission(self, request):
        return False  # `undersigned pledge create`, or a letter's workspace
