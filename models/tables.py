"""Every model, in creation order, for migrations and tests."""
from models.admin import Admin, AdminAction, AdminNotice, AdminOpenid
from models.chat import ChatList, ChatMessage
from models.comment import Comment, Liked, Notice, Reply
from models.goods import Favourite, Goods, Image, SearchCounted, SearchKeyword
from models.search import GoodsSearch
from models.trust import MediaCheck, NotifyGrant, NotifySent, Report, WechatToken
from models.user import User

MODELS = [User, Goods, Image, Favourite, SearchKeyword, Comment, Reply, Liked, Notice,
          ChatList, ChatMessage, Admin, AdminOpenid, AdminNotice, AdminAction,
          WechatToken, MediaCheck, Report, NotifyGrant, NotifySent, SearchCounted, GoodsSearch]
