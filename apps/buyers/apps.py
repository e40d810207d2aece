from django.apps import AppConfig


class BuyersConfig(AppConfig):
    name = "apps.buyers"
    label = "buyers"
