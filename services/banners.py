"""Home banners: Image rows with flag 2, in the order the home page shows them."""
import os

from models import write_txn
from models.admin import record
from models.goods import BANNER, Image
from services import validate
from services.clock import display
from errors import NotFound


def current():
    """[{id, url, thumb, created_at}] of the home banners, in the order the home page shows them."""
    return [{"id": i.id, "url": i.url, "thumb": i.thumb, "created_at": display(i.created_at)}
            for i in Image.select().where(Image.flag == BANNER).order_by(Image.id)]


def add(actor, url, thumb=""):
    """Record an already stored image (its URL or stored name) as a home banner."""
    url = validate.text(url, "url", 128)
    with write_txn():
        image = Image.create(openid=actor[:64], flag=BANNER, url=url,
                             thumb=validate.text(thumb, "thumb", 128, required=False))
        record(actor, "banner.add", "image:%d" % image.id, url)
    return {"id": image.id, "url": url}


def store(actor, processed, folder):
    """Write a processed upload (imaging.clean.process) to the public folder as a banner."""
    os.makedirs(folder, exist_ok=True)
    for name, data in ((processed.name, processed.data), (processed.thumb, processed.thumb_data)):
        with open(os.path.join(folder, name), "xb") as f:  # random names: never overwrite
            f.write(data)
    return add(actor, processed.name, processed.thumb)


def remove(actor, image_id, reason=""):
    """Remove a banner row (the stored file stays: other rows or caches may still cite it);
    the reason goes to the audit log."""
    image_id = validate.integer(image_id, "id", low=1)
    reason = validate.text(reason, "reason", 500, required=False)
    with write_txn():
        if not Image.delete().where(Image.id == image_id, Image.flag == BANNER).execute():
            raise NotFound("no such banner")
        record(actor, "banner.remove", "image:%d" % image_id, reason)
    return {"id": image_id}
