"""SMS alerts through GOV.UK Notify (``notifications-python-client``): the ``AlertSender``
port for mobile numbers. The partnership's Notify service is set in ``SGB_ALERTS__NOTIFY__*``:
its API key, its base URL and an SMS template whose whole text is ``((body))``.

The client is synchronous (``requests``): each send runs in a worker thread. A 5xx, a 429
(rate limit) or a connection that fails is transient; any other 4xx (a number Notify will not
text, a bad template) is permanent. The client's own warning quotes Notify's error message,
which may describe the number: its logger is kept to errors.
"""

import asyncio
import logging

from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient

from broker.alert_settings import NotifySettings
from broker.ports import AlertAttempt

logging.getLogger("notifications_python_client").setLevel(logging.ERROR)
TRANSIENT_4XX = frozenset({408, 429})


class NotifySmsSender:
    def __init__(self, settings: NotifySettings, timeout_seconds: float) -> None:
        # The client ships no annotations on its constructor.
        self._client = NotificationsAPIClient(  # type: ignore[no-untyped-call]
            settings.api_key.get_secret_value(), base_url=settings.base_url,
            timeout=timeout_seconds,
        )  # fmt: skip
        self._template = settings.sms_template_id

    async def send(self, address: str, subject: str, text: str, reference: str) -> AlertAttempt:
        try:
            await asyncio.to_thread(self._client.send_sms_notification, address, self._template,
                                    {"body": text}, reference)  # fmt: skip
        except APIError as exc:
            status = exc.status_code  # 503 when no answer came (the client's own stand-in)
            transient = status >= 500 or status in TRANSIENT_4XX
            return AlertAttempt(False, f"notify_http_{status}", transient=transient)
        return AlertAttempt(True)
