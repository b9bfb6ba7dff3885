"""/accounts/...: sign up, log in/out (Django auth views), the account page and its actions, the
owner's phone pages and the e-mail opt-in/out."""
from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import phone_views, views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(template_name="accounts/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("app-code/", views.new_app_code, name="new-app-code"),
    path("devices/", views.register_device, name="register-device"),
    path("devices/<int:device_pk>/keys/", views.new_device_key, name="new-device-key"),
    path("keys/<str:prefix>/revoke/", views.revoke_device_key, name="revoke-device-key"),
    path("read-keys/", views.new_read_key, name="new-read-key"),
    path("read-keys/<str:prefix>/revoke/", views.revoke_read_key, name="revoke-read-key"),
    path("phones/", phone_views.phone_list, name="phones"),
    path("phones/<int:claim_id>/", phone_views.phone, name="phone"),
    path("phones/<int:claim_id>/events/", phone_views.phone_gallery, name="phone-gallery"),
    path("phones/<int:claim_id>/events/<int:upload_id>/<int:index>.png", phone_views.event_image,
         name="phone-event"),
    path("phone-mail/", phone_views.phone_mail, name="phone-mail"),
    path("unsubscribe/<str:token>/", phone_views.unsubscribe, name="unsubscribe"),
]
