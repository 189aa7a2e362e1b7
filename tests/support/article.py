"""The seed article's guest table, as numactl --hardware prints it (every row ends in a space)."""

ARTICLE_TABLE = "node distances:\n" + "".join(
    f"{row} \n"
    for row in (
        "node    0   1   2   3",
        "  0:   10  15  20  20",
        "  1:   15  10  20  20",
        "  2:   20  20  10  15",
        "  3:   20  20  15  10",
    )
)
