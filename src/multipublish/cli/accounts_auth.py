"""``multipublish accounts auth ID``: the Google consent flow for a YouTube account.

Runs google-auth-oauthlib's installed-app flow (a local server receives the redirect), then merges
the new token into the stored account: a consent that returns no refresh token keeps the stored one.
Registered from ``cli/accounts.py`` through :func:`add_auth_command`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import typer

from multipublish.errors import MultipublishError, NotFoundError
from multipublish.settings import Settings, get_settings

#: Token fields stored after a consent; client id/secret and the token URI stay as configured.
_STORED_FIELDS = ("token", "refresh_token", "expiry", "scopes")


def authorize_account(
    account_id: str,
    settings: Settings,
    *,
    open_browser: bool = True,
    host: str = "localhost",
    port: int = 0,
    timeout_seconds: float | None = None,
    echo: Any = typer.echo,
    analytics: bool = False,
) -> dict[str, Any]:
    """Run the consent flow for ``account_id``'s YouTube credentials and store the token.

    ``analytics`` also asks for ``yt-analytics.readonly``; the scopes stored are those granted, so
    a user who unticks it on Google's screen is still connected (insights then say so per post).

    Returns the masked credentials as stored. Raises ``NotFoundError`` for an unknown account and
    ``MultipublishError`` (with a message fit for the user) when the flow fails.
    """
    from multipublish.accounts import AccountStore
    from multipublish.db import ensure_schema, make_engine
    from multipublish.platforms.google_oauth import (
        merge_token,
        run_consent_flow,
        token_file_path,
        write_token_file,
    )

    engine = make_engine(settings.database_url)
    try:
        ensure_schema(engine)
        store = AccountStore(engine, settings)
        record = store.load(account_id, "youtube")
        try:
            token = run_consent_flow(
                record.credentials,
                settings,
                open_browser=open_browser,
                host=host,
                port=port,
                prompt=echo,
                timeout_seconds=timeout_seconds,
                analytics=analytics,
            )
        except ValueError as exc:  # unusable client secrets
            raise MultipublishError(f"credentials of {account_id!r}: {exc}") from None
        except Exception as exc:  # oauthlib / requests / timeout: say what, never the secrets
            raise MultipublishError(
                f"the consent flow failed ({type(exc).__name__}: {_short(exc)})"
            ) from None
        partial = merge_token({}, {k: token.get(k) for k in _STORED_FIELDS})
        if not record.credentials.get("refresh_token") and not partial.get("refresh_token"):
            echo(
                "warning: Google sent no refresh token and none is stored; revoke multipublish's "
                "access in your Google account settings and run this again"
            )
        masked = store.update_credentials(account_id, "youtube", partial)
        path = token_file_path(record.credentials, account_id)
        if path is not None:
            write_token_file(path, partial)
        return masked
    finally:
        engine.dispose()


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "description", None) or exc)
    return text.splitlines()[0][:200] if text else "no details"


def _check_channel(account_id: str, settings: Settings) -> str | None:
    """Ask YouTube which channel the new token opens (best effort, for the user's eyes)."""
    from multipublish.accounts import AccountStore
    from multipublish.db import make_engine
    from multipublish.platforms.youtube import YouTubeClient

    engine = make_engine(settings.database_url)
    try:
        store = AccountStore(engine, settings)
        record = store.load(account_id, "youtube")

        def save(partial: dict[str, Any]) -> None:
            store.update_credentials(account_id, "youtube", partial)

        async def run() -> str | None:
            client = YouTubeClient(account_id, record.credentials, settings, save)
            try:
                await client.authenticate()
                return client.channel["title"] if client.channel else None
            finally:
                await client.aclose()

        return asyncio.run(run())
    finally:
        engine.dispose()


def add_auth_command(accounts_app: typer.Typer) -> None:
    """Register ``auth`` on the ``accounts`` command group."""

    @accounts_app.command("auth")
    def auth(
        account_id: str = typer.Argument(..., help="The account whose YouTube access to authorise."),
        platform: str = typer.Option("youtube", "--platform", help="Only youtube uses OAuth consent."),
        no_browser: bool = typer.Option(
            False, "--no-browser", help="Print the URL instead of opening a browser."
        ),
        host: str = typer.Option("localhost", "--host", help="Host of the local redirect server."),
        port: int = typer.Option(0, "--port", help="Port of the local redirect server (0: any free)."),
        timeout: float | None = typer.Option(
            None, "--timeout", help="Give up after this many seconds without the redirect."
        ),
        check: bool = typer.Option(
            True, "--check/--no-check", help="Ask YouTube for the channel afterwards."
        ),
        analytics: bool = typer.Option(
            False,
            "--analytics",
            help="Also ask to read YouTube Analytics (watch time for `multipublish insights`); "
            "run again with it to add the scope to an account already connected.",
        ),
    ) -> None:
        """Authorise multipublish to upload to an account's YouTube channel (Google consent)."""
        if platform.strip().lower() != "youtube":
            typer.echo(
                f"error: platform: {platform} accounts use an upload-post API key, not OAuth "
                "consent (only youtube does)",
                err=True,
            )
            raise typer.Exit(2)
        from multipublish.platforms.google_oauth import can_read_analytics

        settings = get_settings()
        try:
            stored = authorize_account(
                account_id,
                settings,
                open_browser=not no_browser,
                host=host,
                port=port,
                timeout_seconds=timeout,
                analytics=analytics,
            )
        except NotFoundError:
            typer.echo(
                f"error: account {account_id!r} has no youtube credentials; add them first with "
                "`multipublish accounts add`",
                err=True,
            )
            raise typer.Exit(1) from None
        except MultipublishError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"Stored the YouTube token of account {account_id}.")
        if analytics and not can_read_analytics(stored.get("scopes")):
            typer.echo(
                "note: YouTube Analytics was not granted; insights collect views without watch time"
            )
        if check:
            try:
                title = _check_channel(account_id, settings)
            except MultipublishError as exc:
                typer.echo(f"warning: the new token does not work yet: {exc.message}", err=True)
                raise typer.Exit(1) from None
            if title:
                typer.echo(f"Channel: {title}")
