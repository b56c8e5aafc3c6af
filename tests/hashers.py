"""A password hasher that counts its work, to show which log-ins reached a password check."""

from django.contrib.auth.hashers import MD5PasswordHasher


class CountingHasher(MD5PasswordHasher):
    algorithm = "counting_md5"
    checks = 0

    def verify(self, password, encoded):
        CountingHasher.checks += 1
        return super().verify(password, encoded.replace("counting_md5", "md5", 1))

    def encode(self, password, salt):
        CountingHasher.checks += 1
        return super().encode(password, salt).replace("md5", "counting_md5", 1)
