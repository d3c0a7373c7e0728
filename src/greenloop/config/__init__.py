"""Settings: greenloop.toml and GREENLOOP_* environment variables, typed and checked
(:mod:`.settings`), and the commented file `greenloop init` writes (:mod:`.template`)."""

from greenloop.config.settings import (
    DEFAULT_CONFIG_NAME,
    AnalyticsSettings,
    ConditionSettings,
    DashboardSettings,
    DatabaseSettings,
    EcomSettings,
    EventSettings,
    IdentitySettings,
    JobSettings,
    LightspeedSettings,
    ProgramSettings,
    PushSettings,
    Settings,
    SyncSettings,
    TierSettings,
    WebhookSettings,
    load_settings,
)

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "AnalyticsSettings",
    "ConditionSettings",
    "DashboardSettings",
    "DatabaseSettings",
    "EcomSettings",
    "EventSettings",
    "IdentitySettings",
    "JobSettings",
    "LightspeedSettings",
    "ProgramSettings",
    "PushSettings",
    "Settings",
    "SyncSettings",
    "TierSettings",
    "WebhookSettings",
    "load_settings",
]
