"""Every table the migrations create, in creation order: what a test empties (conftest.clean)
and snapshots (security_helpers.snapshot). A new table goes here too (test_migrations checks
the columns of each against a migrated database)."""
from models.account import SessionEpoch, UserBlock
from models.admin import Admin, AdminAction, AdminNotice, AdminOpenid
from models.chat import ChatList, ChatMessage, SafetyNotice
from models.comment import Comment, Liked, Notice, Reply
from models.goods import Favourite, Goods, Image, SearchCounted, SearchKeyword
from models.report import Report
from models.search import GoodsSearch
from models.subscription import NotifyGrant, NotifySent
from models.wechat import MediaCheck, WechatToken
from models.user import User
from models.wanted import WantedKey, WantedPost
from models.rating import HandOver, Rating
from models.dispute import Dispute
from models.privacy import Consent, DataExport
from models.words import SensitiveWord, WordListVersion
from models.suggest import GoodsSuggest, SuggestKey, SuggestPrefix, SuggestTerm

MODELS = [User, Goods, Image, Favourite, SearchKeyword, Comment, Reply, Liked, Notice,
          ChatList, ChatMessage, Admin, AdminOpenid, AdminNotice, AdminAction,
          WechatToken, MediaCheck, Report, NotifyGrant, NotifySent, SearchCounted, GoodsSearch,
          SessionEpoch, UserBlock, WantedPost, WantedKey, HandOver, Rating,
          SafetyNotice,
          Dispute, Consent, DataExport, SensitiveWord, WordListVersion, SuggestTerm, SuggestKey,
          SuggestPrefix, GoodsSuggest]
