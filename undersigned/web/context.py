from django.conf import settings


def site(request):
    return {"base_url": settings.BASE_URL}
