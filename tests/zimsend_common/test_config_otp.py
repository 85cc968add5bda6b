"""The OTP settings: a default template must say where the code goes; the secret is never shown."""

import pytest

from zimsend_common.config import ConfigError, load_settings


def test_an_otp_template_without_a_placeholder_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="otp_template"):
        load_settings(environ={"ZIMSEND_CONFIG": "", "ZIMSEND_OTP_TEMPLATE": "Your code"})


@pytest.mark.parametrize("template", ["Your code is {code}", "Code: {{ code }}"])
def test_an_otp_template_with_either_placeholder_is_taken(template):
    settings = load_settings(environ={"ZIMSEND_CONFIG": "", "ZIMSEND_OTP_TEMPLATE": template})
    assert settings.relay.otp_template == template


def test_the_otp_secret_is_read_from_the_environment_and_not_shown_in_the_settings():
    settings = load_settings(environ={"ZIMSEND_CONFIG": "", "ZIMSEND_OTP_SECRET": "s3cr3t-shared-key"})
    assert settings.relay.otp_secret.get_secret_value() == "s3cr3t-shared-key"
    assert "s3cr3t-shared-key" not in repr(settings) + str(settings)
