"""Like trio's epoll backend: needs select.epoll, which patch_select(aggressive=True) removes."""
import select

_POLLER = select.epoll
