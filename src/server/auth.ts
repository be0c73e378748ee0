/**
 * Passwords: `requirepass` (the `default` user) and named users with roles. Passwords are kept
 * only as SHA-256 digests and compared in constant time.
 *
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import type { AuthHooks, UserRole } from "../commands/types.ts";

/** A user as the config defines it. */
export interface UserConfig {
  name: string;
  /** SHA-256 of the password, hex. */
  passwordSha256: string;
  role: UserRole;
}

/** SHA-256 of a password, hex (for `users[].password_sha256` in the config). */
export function passwordDigest(password: string): string {
  const bytes = new Uint8Array(password.length);
  for (let i = 0; i < password.length; i++) bytes[i] = password.charCodeAt(i) & 0xff;
  return Array.from(sha256(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Equal-length strings compared without an early exit, so timing says nothing. */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

export class Auth implements AuthHooks {
  failures = 0;
  private readonly byName = new Map<string, UserConfig>();

  constructor(requirePass: string, users: UserConfig[]) {
    if (requirePass !== "") {
      this.byName.set("default", {
        name: "default",
        passwordSha256: passwordDigest(requirePass),
        role: "admin",
      });
    }
    for (const user of users) this.byName.set(user.name, user);
  }

  get required(): boolean {
    return this.byName.size > 0;
  }

  check(user: string, password: string): UserRole | null {
    const digest = passwordDigest(password);
    const known = this.byName.get(user);
    // Hash and compare even for an unknown user, so the reply time does not reveal names.
    const ok = constantTimeEqual(digest, known?.passwordSha256 ?? "0".repeat(64));
    return known !== undefined && ok ? known.role : null;
  }

  users(): { name: string; role: UserRole }[] {
    const users = [...this.byName.values()].map(({ name, role }) => ({ name, role }));
    return users.length > 0 ? users : [{ name: "default", role: "admin" }];
  }
}
