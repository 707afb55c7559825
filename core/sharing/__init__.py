"""Sharing: links that reproduce a view for a teammate (tokens, permissions, expiry,
revocation), and accounts (users, teams, sessions, rate limiting, the session cookie, single
sign-on mapping)."""

from core.sharing._accounts import COOKIE_NAME
from core.sharing._accounts import NEXT_COOKIE
from core.sharing._accounts import SESSION_DAYS
from core.sharing._accounts import SignIn
from core.sharing._accounts import add_member
from core.sharing._accounts import authenticate
from core.sharing._accounts import cookie_value
from core.sharing._accounts import create_session
from core.sharing._accounts import create_team
from core.sharing._accounts import create_user
from core.sharing._accounts import end_session
from core.sharing._accounts import is_site_admin
from core.sharing._accounts import issue_handoff
from core.sharing._accounts import list_teams
from core.sharing._accounts import list_users
from core.sharing._accounts import local_viewer
from core.sharing._accounts import redeem_handoff
from core.sharing._accounts import remove_member
from core.sharing._accounts import remove_user
from core.sharing._accounts import resolve_session
from core.sharing._accounts import safe_next
from core.sharing._accounts import set_admin
from core.sharing._accounts import set_password
from core.sharing._accounts import sign_in
from core.sharing._accounts import sso_sign_in
from core.sharing._accounts import sso_viewer
from core.sharing._accounts import teams_of
from core.sharing._accounts import token_from_cookie
from core.sharing._accounts import viewer_for
from core.sharing._links import NOT_FOUND
from core.sharing._links import PERMISSIONS
from core.sharing._links import TARGETS
from core.sharing._links import create_link
from core.sharing._links import describe_grant
from core.sharing._links import grant_of
from core.sharing._links import link_params
from core.sharing._links import list_links
from core.sharing._links import resolve_grant
from core.sharing._links import resolve_link
from core.sharing._links import revoke_link
from core.sharing._links import token_hash
from core.sharing._projects import ITEM_KINDS
from core.sharing._projects import MemberInfo
from core.sharing._projects import ProjectInfo
from core.sharing._projects import create_project
from core.sharing._projects import delete_project
from core.sharing._projects import get_project
from core.sharing._projects import list_projects
from core.sharing._projects import move_to_project
from core.sharing._projects import my_default_project
from core.sharing._projects import project_contents
from core.sharing._projects import project_members
from core.sharing._projects import rename_project
from core.sharing._projects import resolve_project
from core.sharing._projects import restore_project
from core.sharing._projects import set_project_role
from core.sharing._projects import set_team_role

__all__ = [
    "COOKIE_NAME",
    "ITEM_KINDS",
    "MemberInfo",
    "NEXT_COOKIE",
    "NOT_FOUND",
    "PERMISSIONS",
    "ProjectInfo",
    "SESSION_DAYS",
    "SignIn",
    "TARGETS",
    "add_member",
    "authenticate",
    "cookie_value",
    "create_link",
    "create_project",
    "create_session",
    "create_team",
    "create_user",
    "delete_project",
    "describe_grant",
    "end_session",
    "get_project",
    "grant_of",
    "issue_handoff",
    "link_params",
    "list_links",
    "list_projects",
    "list_teams",
    "list_users",
    "local_viewer",
    "move_to_project",
    "my_default_project",
    "project_contents",
    "project_members",
    "redeem_handoff",
    "remove_member",
    "remove_user",
    "rename_project",
    "resolve_grant",
    "resolve_link",
    "resolve_project",
    "resolve_session",
    "restore_project",
    "revoke_link",
    "safe_next",
    "is_site_admin",
    "set_admin",
    "set_password",
    "set_project_role",
    "set_team_role",
    "sign_in",
    "sso_sign_in",
    "sso_viewer",
    "teams_of",
    "token_from_cookie",
    "token_hash",
    "viewer_for",
]
