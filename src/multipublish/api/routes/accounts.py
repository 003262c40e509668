"""Accounts: add, list, show and remove; credentials go in and never come out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import JSONResponse

from multipublish.accounts import check_remote_credentials
from multipublish.api.auth import TokenDep
from multipublish.api.deps import StateDep
from multipublish.api.routes.common import errors, to_json
from multipublish.api.schemas import (
    ACCOUNT_ID_PATTERN,
    AccountCheckPublic,
    AccountCreate,
    AccountPublic,
    AccountsRemovedPublic,
)
from multipublish.errors import NotFoundError
from multipublish.platforms.base import PLATFORMS

router = APIRouter(prefix="/api/publishing/accounts", tags=["accounts"])

AccountId = Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN, max_length=200)]
PlatformName = Annotated[str, Path(pattern="^(" + "|".join(PLATFORMS) + ")$")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AccountPublic,
    responses=errors(409),
)
def add_account(body: AccountCreate, state: StateDep, _token: TokenDep) -> Any:
    """Add (or replace) the credentials of an account on one platform.

    YouTube: send the client secrets file's content as ``credentials.client_secrets`` (a path is
    taken only under the server's ``MULTIPUBLISH_GOOGLE_SECRETS_DIR``); the token endpoint is a
    server setting, never a ``token_uri`` sent here.
    """
    check_remote_credentials(body.platform, body.credentials, state.settings)
    account = state.manager.add_account(body.account_id, body.platform, body.credentials)
    return JSONResponse(to_json(account), status_code=201)


@router.get("", response_model=list[AccountPublic], responses=errors())
def list_accounts(
    state: StateDep,
    _token: TokenDep,
    account_id: Annotated[
        str | None, Query(pattern=ACCOUNT_ID_PATTERN, max_length=200)
    ] = None,
) -> Any:
    """Every account (or every platform of one account), credentials masked."""
    return to_json(state.manager.list_accounts(account_id))


@router.get("/{account_id}/{platform}", response_model=AccountPublic, responses=errors(404))
def get_account(
    account_id: AccountId, platform: PlatformName, state: StateDep, _token: TokenDep
) -> Any:
    """One account on one platform, credentials masked."""
    return to_json(state.manager.get_account(account_id, platform))


@router.post("/{account_id}/check", response_model=AccountCheckPublic, responses=errors(404))
async def check_account(account_id: AccountId, state: StateDep, _token: TokenDep) -> Any:
    """Verify an account against its services without uploading (key, profile, connections,
    plan, token, quota left); ``ok`` is false when any check failed."""
    from multipublish.account_check import check_account as run_checks
    from multipublish.usage import UsageStore

    return await run_checks(state.manager, account_id, UsageStore(state.engine, state.settings))


@router.delete("/{account_id}", response_model=AccountsRemovedPublic, responses=errors(404))
def remove_account(
    account_id: AccountId,
    state: StateDep,
    _token: TokenDep,
    platform: Annotated[str | None, Query(pattern="^(" + "|".join(PLATFORMS) + ")$")] = None,
) -> Any:
    """Remove an account from every platform (or from the one named by ``platform``)."""
    removed = int(state.manager.remove_account(account_id, platform))
    if not removed:
        raise NotFoundError("account", account_id if not platform else f"{account_id}/{platform}")
    return {"account_id": account_id, "removed": removed}


@router.delete(
    "/{account_id}/{platform}", response_model=AccountsRemovedPublic, responses=errors(404)
)
def remove_account_platform(
    account_id: AccountId, platform: PlatformName, state: StateDep, _token: TokenDep
) -> Any:
    """Remove an account from one platform."""
    return remove_account(account_id, state, _token, platform)
