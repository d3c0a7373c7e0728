"""Word lists for the store generator: invented people, places and a hemp-shop catalogue.

Everything here is fictional. Area codes are real US ones so that generated phone
numbers look like valid North American numbers to a phone-number parser.
"""

from __future__ import annotations

__all__ = [
    "AREA_CODES",
    "CITIES",
    "CUSTOMER_NOTES",
    "EMAIL_DOMAINS",
    "FIRST_NAMES_F",
    "FIRST_NAMES_M",
    "LAST_NAMES",
    "ORDER_COMMENTS",
    "PRODUCTS",
    "SALE_NOTES",
    "STREETS",
]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES_F = _words(
    "Abigail Ada Addison Alice Alyssa Amara Amber Amelia Andrea Angela Anna Aria Ava Bailey "
    "Beatrice Bella Bianca Brianna Brooke Caitlin Camila Carmen Caroline Cassidy Chloe Clara "
    "Daisy Dana Delia Diana Eleanor Elena Eliza Ella Emery Emma Erin Esther Eva Faith Fiona "
    "Gabriela Grace Hannah Harper Hazel Iris Isabel Ivy Jade Jasmine Jenna Joanna Josie Julia "
    "June Kara Kate Kayla Keira Laila Laura Layla Leah Lena Lila Lucia Lucy Luna Lydia Maya "
    "Megan Mia Mila Molly Nadia Naomi Natalie Nina Nora Olive Olivia Paige Penelope Piper Quinn "
    "Rachel Reese Riley Rosa Ruby Sadie Sara Savannah Selena Sienna Sofia Stella Tara Tessa "
    "Valerie Vera Violet Willa Zoe"
)

FIRST_NAMES_M = _words(
    "Aaron Adrian Aiden Alan Alex Andre Andrew Angel Anthony Arlo Asher August Austin Ben Blake "
    "Bodhi Brandon Brian Caleb Cameron Carlos Carter Casey Chase Colin Cooper Dante Darius David "
    "Dean Derek Diego Dominic Dylan Eli Elias Emmett Eric Ethan Evan Felix Finn Gavin George "
    "Grant Hector Henry Hudson Ian Isaac Jack Jamal Jared Jason Jesse Joel Jonah Jordan Jorge "
    "Julian Kai Kevin Landon Leo Levi Liam Logan Lucas Luis Malik Marcus Mason Mateo Micah "
    "Miles Nathan Neil Noah Omar Owen Parker Paul Reid Roman Ryan Samuel Sean Silas Simon "
    "Theo Tobias Trent Tristan Troy Victor Wade Wesley Wyatt Xavier Zane"
)

LAST_NAMES = _words(
    "Abbott Acosta Alvarez Archer Atkins Bailey Baker Barnes Bates Beck Bell Bennett Blair "
    "Bowen Boyd Bradley Brennan Briggs Brooks Bryant Burke Calloway Campbell Carver Castillo "
    "Chandler Chen Clarke Cole Collins Conway Cruz Dalton Daniels Dawson Delgado Dixon Doyle "
    "Duncan Ellis Emerson Estrada Farrell Fischer Fleming Flores Ford Foster Fowler Franklin "
    "Garcia Garner Gibson Goodwin Graham Greer Griffin Hale Hamilton Harding Harper Hayes "
    "Hendricks Hines Holland Holt Hopkins Howell Hughes Ingram Jennings Jensen Kane Keller "
    "Kemp Kerr Kim Knight Lambert Lane Larsen Lawson Lin Lowe Lucero Maddox Marsh Mathis "
    "McBride Mercer Meyer Monroe Moreno Nash Navarro Nguyen Norris Oakley Ortega Owens Padilla "
    "Park Patel Payne Pearson Pham Porter Quinlan Ramos Reeves Rhodes Rios Rowe Salazar "
    "Sawyer Schultz Shah Shelton Sims Sloan Soto Spencer Stanton Stokes Sutton Tate Thornton "
    "Tran Tucker Vance Vaughn Wade Walsh Warren Webb Whitaker Wiley Winters Wolfe Yates Young"
)

EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

# (city, state code, ZIP prefix); Middle Tennessee, where the invented store sits.
CITIES = (
    ("Nashville", "TN", "372"),
    ("Nashville", "TN", "372"),
    ("Nashville", "TN", "372"),
    ("Franklin", "TN", "370"),
    ("Murfreesboro", "TN", "371"),
    ("Brentwood", "TN", "370"),
    ("Hendersonville", "TN", "370"),
    ("Clarksville", "TN", "370"),
    ("Smyrna", "TN", "371"),
    ("Mount Juliet", "TN", "371"),
    ("Gallatin", "TN", "370"),
    ("Columbia", "TN", "384"),
)

STREETS = (
    "Acorn Ln",
    "Ash Grove Dr",
    "Belmont Blvd",
    "Birch Hollow Rd",
    "Cedar Bluff Ct",
    "Chestnut St",
    "Creekside Dr",
    "Dogwood Trl",
    "Elm Hill Pike",
    "Fern Valley Rd",
    "Foxglove Way",
    "Granite Ridge Dr",
    "Harbor View Ln",
    "Hickory Bend",
    "Juniper Ave",
    "Lakeshore Dr",
    "Laurel Oak Ct",
    "Magnolia Ave",
    "Maple Row",
    "Meadowlark Ln",
    "Mill Creek Rd",
    "Oak Park Cir",
    "Orchard Hill Dr",
    "Pine Knoll Rd",
    "Quail Run",
    "Redbud Ct",
    "River Rock Blvd",
    "Sassafras Ln",
    "Stonebridge Way",
    "Sycamore Dr",
    "Thistle Ct",
    "Walnut Grove Rd",
    "Willow Brook Ln",
)

# Real area codes: mostly Tennessee, plus neighbours and a few far-away ones for visitors.
AREA_CODES = (
    "615",
    "615",
    "615",
    "629",
    "629",
    "931",
    "931",
    "423",
    "865",
    "901",
    "731",
    "270",
    "502",
    "256",
    "205",
    "404",
    "678",
    "312",
    "214",
    "512",
    "212",
    "310",
    "303",
    "206",
)

# name, SKU as scanned (leading zeros matter), unit price ex tax, unit cost, sold online
PRODUCTS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("Sample Gummies 30ct", "012345678905", "28.00", "11.20", True),
    ("Sample Gummies 10ct", "012345678912", "12.00", "4.80", True),
    ("Sour Citrus Gummies 20ct", "041899993349", "24.00", "9.60", True),
    ("Night Berry Gummies 30ct", "041899993356", "32.00", "12.80", True),
    ("Hemp Flower 3.5G - Meadow Haze", "10021", "30.00", "12.00", True),
    ("Hemp Flower 3.5G - Cedar Kush", "10022", "34.00", "13.60", True),
    ("Hemp Flower 7G - House Blend", "10023", "55.00", "22.00", True),
    ("Hemp Flower 14G - House Blend", "10024", "95.00", "38.00", True),
    ("Pre-Roll Single - Meadow Haze", "10031", "8.00", "2.40", True),
    ("Pre-Roll 5 Pack - Mixed", "10032", "35.00", "12.25", True),
    ("Vape Cart 1G - Example Kush", "10055", "34.00", "13.60", True),
    ("Vape Cart 1G - Lemon Drift", "10056", "34.00", "13.60", True),
    ("Disposable Vape 2G - Mango Fog", "10057", "42.00", "16.80", True),
    ("CBD Tincture 1000mg", "00781234", "45.00", "15.75", True),
    ("CBD Tincture 2500mg", "00781235", "79.00", "27.65", True),
    ("CBD Balm 2oz", "00781240", "29.50", "10.30", True),
    ("Relief Roll-On 3oz", "00781241", "24.99", "8.75", True),
    ("Sleep Capsules 30ct", "00781250", "39.00", "13.65", True),
    ("Hemp Seltzer 4 Pack", "085000123456", "18.00", "7.20", True),
    ("Chocolate Bar - Dark", "085000123463", "16.00", "6.40", True),
    ("Glass Pipe - Small", "20011", "14.00", "4.20", False),
    ("Glass Pipe - Spoon", "20012", "22.00", "6.60", False),
    ("Water Pipe 10in", "20013", "64.99", "22.75", False),
    ("Grinder 4-Piece", "20021", "19.99", "6.00", True),
    ("Rolling Papers King Size", "0071690012", "2.99", "0.90", True),
    ("Rolling Tray - Leaf", "20031", "12.00", "3.60", True),
    ("Lighter", "20041", "1.99", "0.50", False),
    ("Storage Jar", "20051", "9.50", "2.85", True),
    ("Hemp Tee - Logo", "30011", "25.00", "8.75", True),
    ("Dad Hat - Logo", "30021", "22.00", "7.70", True),
    ("Sticker Pack", "30031", "4.00", "0.80", True),
    ("Gift Box - Starter", "30041", "60.00", "24.00", True),
)

SALE_NOTES = (
    "Customer asked for a bag",
    "Price matched online",
    "Gift wrap",
    "Will pick up remainder Friday",
    "Loyalty sign-up at till",
    "Manager approved discount",
)

ORDER_COMMENTS = (
    "Please leave at side door; thanks",
    "Call when outside",
    "Gift - no receipt please",
    "Picking up after work around 6",
    "Ring bell twice",
    "First order, excited to try!",
)

CUSTOMER_NOTES = (
    "Prefers text over calls",
    "Merged duplicate profile",
    "Ask about the loyalty app",
    "Allergic to coconut oil products",
    "Regular at East Side",
)
