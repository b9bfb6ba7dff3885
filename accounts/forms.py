"""Forms of the account pages."""
from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import DetectorKind


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=False, help_text="Optional; only used to reach you about your data.")

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


class RegisterDeviceForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Your name for it, e.g. 'Pi camera on the roof'.")
    kind = forms.ChoiceField(choices=DetectorKind.choices, initial=DetectorKind.OTHER)


class KeyNameForm(forms.Form):
    name = forms.CharField(max_length=50, required=False)


class PhoneMailForm(forms.Form):
    email = forms.EmailField(required=False)
    active = forms.BooleanField(required=False)
