"""Hostile, in Python: an operation that allocates a mebibyte at a time,
touching every byte, until the runtime stops it (its memory limit)."""

from sme_guest import operation


@operation
def hog(request):
    held = []
    while True:
        block = bytearray(1 << 20)
        for at in range(0, len(block), 4096):
            block[at] = 1
        held.append(block)
