"""Sets its own profile functions (sys.setprofile, threading.setprofile),
counts the calls they see, then removes them."""
import sys
import threading

seen = {"main": 0, "thread": 0}


def mine(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "work":
        seen["main" if threading.current_thread() is threading.main_thread()
             else "thread"] += 1


def work(n):
    return n + 1


def in_thread():
    for i in range(10):
        work(i)


def main():
    threading.setprofile(mine)
    sys.setprofile(mine)
    for i in range(20):
        work(i)
    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    sys.setprofile(None)
    threading.setprofile(None)
    for i in range(5):
        work(i)
    print("seen", seen["main"], seen["thread"])


if __name__ == "__main__":
    main()
