# Django reads the throwaway database retort hands to schema_build from the libpq variables.
import os

SECRET_KEY = "only-for-the-test"
INSTALLED_APPS = ["shop"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("PGDATABASE", "none"),  # makemigrations needs a name, not a server
        "USER": os.environ.get("PGUSER", ""),
        "HOST": os.environ.get("PGHOST", ""),
        "PORT": os.environ.get("PGPORT", ""),
        "PASSWORD": os.environ.get("PGPASSWORD", ""),
    }
}
