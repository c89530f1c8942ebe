//! vigie accounts and perimeters: roles, grants, principals, password hashing (argon2id), API and session tokens. Pure: no I/O.
