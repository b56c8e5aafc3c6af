// passkeys: see below
