"""Key administration: `python -m api.admin create-key --name NAME [--admin]`, `revoke-key PREFIX`, `list-keys`."""

from __future__ import annotations

import argparse
import sys

from store.db import session_scope
from store.principals import ADMIN_PRINCIPAL, create_key, get_or_create_principal, list_keys, revoke_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="make a key for a principal (created if new); printed once")
    create.add_argument("--name", required=True, help="the principal's name")
    create.add_argument("--admin", action="store_true", help="the key sees every principal's jobs")
    revoke = commands.add_parser("revoke-key", help="revoke a key by its prefix (the 8 hex digits after tw_)")
    revoke.add_argument("prefix")
    commands.add_parser("list-keys", help="list keys (prefixes only; secrets are never stored)")
    args = parser.parse_args(argv)

    with session_scope() as session:
        if args.command == "create-key":
            if args.name == ADMIN_PRINCIPAL and not args.admin:
                print(
                    f"the name {ADMIN_PRINCIPAL!r} is the operator's principal (TRAINWELL_ADMIN_KEY); "
                    "choose another name, or pass --admin for an admin key",
                    file=sys.stderr,
                )
                return 2
            principal = get_or_create_principal(session=session, name=args.name)
            print(create_key(session=session, principal=principal, name=args.name, is_admin=args.admin))
        elif args.command == "revoke-key":
            if not revoke_key(session=session, prefix=args.prefix):
                print(f"no active key with prefix {args.prefix!r}", file=sys.stderr)
                return 1
            print(f"revoked {args.prefix}")
        else:
            for key, principal in list_keys(session=session):
                state = "revoked" if key.revoked_at else "active"
                print(f"tw_{key.prefix}_…  {principal.name}{' (admin)' if key.is_admin else ''}  {state}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
