"""Generators, async generators and asyncio tasks, with a cancellation."""
import asyncio


def numbers(n):
    for i in range(n):
        yield i


async def ticker(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


async def worker(k):
    total = 0
    async for i in ticker(20):
        total += i * k
    return total


async def sleeper():
    await asyncio.sleep(60)


async def main():
    results = await asyncio.gather(*(worker(k) for k in range(10)))
    task = asyncio.ensure_future(sleeper())
    await asyncio.sleep(0)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        print("cancelled")
    print("gen", sum(numbers(1000)), "async", sum(results))


if __name__ == "__main__":
    asyncio.run(main())
