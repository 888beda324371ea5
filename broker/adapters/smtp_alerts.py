"""Email alerts over SMTP (``aiosmtplib``): the ``AlertSender`` port for email addresses.

One connection per alert: alerts are few (a handful per notice), and a relay that drops idle
connections then costs nothing. A 4xx reply or a connection that fails is transient; a 5xx
(an address refused, a message rejected) is permanent. Errors come back by class and code
only: an SMTP reply may quote the address, which must not reach a log.
"""

from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from broker.alert_settings import SmtpSettings
from broker.ports import AlertAttempt


class SmtpAlertSender:
    def __init__(self, settings: SmtpSettings, timeout_seconds: float) -> None:
        self._settings, self._timeout = settings, timeout_seconds

    async def send(self, address: str, subject: str, text: str, reference: str) -> AlertAttempt:
        s = self._settings
        try:
            await aiosmtplib.send(
                self._message(address, subject, text, reference),
                hostname=s.host, port=s.port, start_tls=s.starttls, use_tls=s.implicit_tls,
                username=s.username or None, password=s.password.get_secret_value() or None,
                timeout=self._timeout,
            )  # fmt: skip
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return _refused(min((r.code for r in exc.recipients), default=550))
        except aiosmtplib.SMTPResponseException as exc:
            return _refused(exc.code)
        except (aiosmtplib.SMTPException, OSError) as exc:
            return AlertAttempt(False, f"smtp_{type(exc).__name__}")
        return AlertAttempt(True)

    def _message(self, address: str, subject: str, text: str, reference: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.from_address
        message["To"] = address
        message["Subject"] = subject
        # The alert's own reference, for a relay's logs: opaque, like the notice's id.
        message["Message-ID"] = make_msgid(idstring=reference)
        message.set_content(text)
        return message


def _refused(code: int) -> AlertAttempt:
    return AlertAttempt(False, f"smtp_{code}", transient=400 <= code < 500)
