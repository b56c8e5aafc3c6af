from django.contrib import admin

from undersigned.letters.models import Letter


@admin.register(Letter)
class LetterAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "status", "visibility", "signature_count", "created_at"]
    list_filter = ["status", "visibility"]
    search_fields = ["title", "slug", "addressed_to"]
    readonly_fields = [
        "signature_count",
        "verified_count",
        "counted_at",
        "published_at",
        "closed_at",
        "created_at",
        "updated_at",
    ]
    filter_horizontal = ["organizers"]
    actions = ["close_letters"]

    @admin.action(description="Close the selected letters to new signatures")
    def close_letters(self, request, queryset):
        for letter in queryset.filter(status=Letter.Status.OPEN):
            letter.close()
